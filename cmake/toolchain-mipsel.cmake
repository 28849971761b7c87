# toolchain-mipsel.cmake: dotd for 32-bit little-endian MIPS (most OpenWrt routers: ramips, mt7621),
# built with Debian's mipsel-linux-gnu-gcc and tested under qemu-mipsel. Use as
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mipsel.cmake [-DDOTD_CROSS_SYSROOT=DIR] ...
# (tests/cross/cross.sh mipsel, `make cross ARCH=mipsel`); the rest is cmake/cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR mipsel)
set(DOTD_CROSS_TRIPLET mipsel-linux-gnu)
set(DOTD_CROSS_QEMU qemu-mipsel)
include(${CMAKE_CURRENT_LIST_DIR}/cross.cmake)
