#pragma once
// Whether storage of a finished world (arena chunks, the event queue's first slot chunk)
// may serve the next one. Not under AddressSanitizer: there a pointer kept from a finished
// world must be reported as a use after free, not read the next world's objects.

namespace natsim::sim {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kReuseWorldMemory = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kReuseWorldMemory = false;
#else
inline constexpr bool kReuseWorldMemory = true;
#endif
#else
inline constexpr bool kReuseWorldMemory = true;
#endif

}  // namespace natsim::sim
