# toolchain-armhf.cmake: dotd for 32-bit ARMv7 with hardware floating point (OpenWrt ipq40xx,
# mvebu), built with Debian's arm-linux-gnueabihf-gcc and tested under qemu-arm. Use as
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armhf.cmake [-DDOTD_CROSS_SYSROOT=DIR] ...
# (tests/cross/cross.sh armhf, `make cross ARCH=armhf`); the rest is cmake/cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR arm)
set(DOTD_CROSS_TRIPLET arm-linux-gnueabihf)
set(DOTD_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross.cmake)
