# toolchain-arm64.cmake: dotd for 64-bit ARM (OpenWrt mediatek filogic, bcm27xx),
# built with Debian's aarch64-linux-gnu-gcc and tested under qemu-aarch64. Use as
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake [-DDOTD_CROSS_SYSROOT=DIR] ...
# (tests/cross/cross.sh arm64, `make cross ARCH=arm64`); the rest is cmake/cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(DOTD_CROSS_TRIPLET aarch64-linux-gnu)
set(DOTD_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross.cmake)
