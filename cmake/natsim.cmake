# natsim_test(NAME SOURCES... LIBS ...): one GoogleTest executable registered with ctest.
function(natsim_test name)
  if(NOT NATSIM_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} natsim_warnings GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES ENVIRONMENT "NATSIM_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}")
endfunction()
