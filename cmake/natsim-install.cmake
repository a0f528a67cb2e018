# Installs natsim as a CMake package: headers, the static libraries, the CLI, and
# natsimConfig.cmake + natsimConfigVersion.cmake exporting natsim::base, natsim::sim,
# natsim::nat_models, natsim::traversal, natsim::scenarios, natsim::io (natsimTargets)
# and natsim::testing (natsimTestingTargets, loaded only where GoogleTest is found).
# docs/library.md shows the consumer's side.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NATSIM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/natsim)
set(natsim_modules base sim nat_models traversal scenarios io)
if(NATSIM_BUILD_TESTING_LIB)
  list(APPEND natsim_modules testing)
endif()

# The module CMakeLists (which others edit all the time) state their include directory
# and their warning policy plainly; exporting needs both in build-only form. Rewriting
# the properties here keeps those files as they are:
# - a source-tree include directory is valid only in the build tree: wrap it in
#   BUILD_INTERFACE and add the installed include/ directory;
# - natsim_warnings (compile flags for natsim's own sources) reaches a static library's
#   link interface as $<LINK_ONLY:natsim_warnings>, which carries nothing to consumers;
#   it is dropped from the exported interface.
foreach(module IN LISTS natsim_modules)
  set(target natsim_${module})
  get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(fixed_dirs "")
  foreach(dir IN LISTS dirs)
    if(dir MATCHES "^\\$<")
      list(APPEND fixed_dirs "${dir}")
    else()
      list(APPEND fixed_dirs "$<BUILD_INTERFACE:${dir}>")
    endif()
  endforeach()
  list(APPEND fixed_dirs "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${fixed_dirs}")

  get_target_property(libs ${target} INTERFACE_LINK_LIBRARIES)
  if(libs)
    list(REMOVE_ITEM libs "$<LINK_ONLY:natsim_warnings>" natsim_warnings)
    set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${libs}")
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${module})

  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()

# boost::system::result::value() and friends record their caller's file name (a
# source_location) for the exception they throw, which would put this tree's absolute
# path into the installed libraries and CLI. -ffile-prefix-map makes those names relative.
# An option, ON in the release preset (what CI installs from): switching it on rebuilds
# every library.
option(NATSIM_RELOCATABLE_PATHS "Compile with source paths relative to the source tree" OFF)
if(NATSIM_RELOCATABLE_PATHS)
  foreach(target IN ITEMS natsim_sim natsim_nat_models natsim_traversal natsim_scenarios natsim_io
                          natsim_testing natsim)
    if(TARGET ${target})
      target_compile_options(${target} PRIVATE -ffile-prefix-map=${PROJECT_SOURCE_DIR}/=
                                               -ffile-prefix-map=${PROJECT_BINARY_DIR}/=)
    endif()
  endforeach()
endif()

set(natsim_core_targets natsim_base natsim_sim natsim_nat_models natsim_traversal
                        natsim_scenarios natsim_io)
if(TARGET natsim)
  set_target_properties(natsim PROPERTIES EXPORT_NAME natsim)
  list(APPEND natsim_core_targets natsim)  # natsim::natsim, the CLI (for replays)
endif()
install(TARGETS ${natsim_core_targets}
        EXPORT natsimTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT natsimTargets NAMESPACE natsim:: DESTINATION ${NATSIM_INSTALL_CMAKEDIR})

if(NATSIM_BUILD_TESTING_LIB)
  install(TARGETS natsim_testing EXPORT natsimTestingTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT natsimTestingTargets NAMESPACE natsim:: DESTINATION ${NATSIM_INSTALL_CMAKEDIR})
endif()

# The curated scenarios and their schema (share/natsim/scenarios/library/*.json refer to
# ../natsim.schema.json), for `natsim run` and for tests that load them; the package
# config names the directory natsim_SCENARIO_DIR.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scenarios/library
        DESTINATION ${CMAKE_INSTALL_DATADIR}/natsim/scenarios)
install(FILES ${PROJECT_SOURCE_DIR}/scenarios/natsim.schema.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/natsim/scenarios)
set(NATSIM_INSTALL_SCENARIODIR ${CMAKE_INSTALL_DATADIR}/natsim/scenarios)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/natsimConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/natsimConfig.cmake
                              INSTALL_DESTINATION ${NATSIM_INSTALL_CMAKEDIR}
                              PATH_VARS NATSIM_INSTALL_SCENARIODIR)
# 0.x: a minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/natsimConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/natsimConfig.cmake ${PROJECT_BINARY_DIR}/natsimConfigVersion.cmake
        DESTINATION ${NATSIM_INSTALL_CMAKEDIR})
