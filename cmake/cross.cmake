# cross.cmake: what the three toolchain files share (toolchain-mipsel.cmake, toolchain-armhf.cmake,
# toolchain-arm64.cmake, used by tests/cross/cross.sh and `make cross`). Before including it a
# toolchain file sets DOTD_CROSS_TRIPLET (the GNU triplet, which is also Debian's multiarch
# directory) and DOTD_CROSS_QEMU (the qemu-user binary).
#
# The compiler is Debian's cross gcc, whose C library sits in /usr/TRIPLET. The target's other
# libraries come from one of two places:
#   - DOTD_CROSS_SYSROOT (a cache variable, or the environment variable of that name): a
#     directory into which the target's Debian packages were unpacked (tests/cross/cross.sh
#     does this), with headers in usr/include and libraries in usr/lib/TRIPLET;
#   - unset: Debian multiarch, the -dev packages installed as pkg:ARCH into /usr.
# pkg-config reads only the target's .pc files, and CMAKE_CROSSCOMPILING_EMULATOR runs the
# target's programs (the unit tests under ctest) in qemu-user with the C library of
# /usr/TRIPLET and the libraries of the sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${DOTD_CROSS_TRIPLET}-gcc)

# try_compile() projects read this file again: pass the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DOTD_CROSS_SYSROOT)
if(NOT DEFINED DOTD_CROSS_SYSROOT AND DEFINED ENV{DOTD_CROSS_SYSROOT})
	set(DOTD_CROSS_SYSROOT "$ENV{DOTD_CROSS_SYSROOT}")
endif()
set(DOTD_CROSS_SYSROOT "${DOTD_CROSS_SYSROOT}" CACHE PATH
	"Unpacked target packages (usr/include, usr/lib/TRIPLET); empty for multiarch in /usr")

set(sysroot_lib ${DOTD_CROSS_SYSROOT}/usr/lib/${DOTD_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /usr/${DOTD_CROSS_TRIPLET})
if(DOTD_CROSS_SYSROOT)
	list(APPEND CMAKE_FIND_ROOT_PATH ${DOTD_CROSS_SYSROOT})
	# The headers of the unpacked packages, and their libraries for the link; -rpath-link finds
	# what those libraries need in turn (libldns needs libcrypto).
	set(CMAKE_C_FLAGS_INIT "-isystem ${DOTD_CROSS_SYSROOT}/usr/include/${DOTD_CROSS_TRIPLET}")
	string(APPEND CMAKE_C_FLAGS_INIT " -isystem ${DOTD_CROSS_SYSROOT}/usr/include")
	set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${sysroot_lib} -Wl,-rpath-link,${sysroot_lib}")
else()
	list(APPEND CMAKE_FIND_ROOT_PATH /)
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: the target's .pc files only, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "${sysroot_lib}/pkgconfig:${DOTD_CROSS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
if(DOTD_CROSS_SYSROOT)
	set(ENV{PKG_CONFIG_SYSROOT_DIR} "${DOTD_CROSS_SYSROOT}")
endif()

# qemu-user: -L for the dynamic loader and C library of the cross toolchain, -E LD_LIBRARY_PATH
# for the sysroot's libraries (multiarch ones are in the loader's default path already).
# DOTD_TEST_EMULATOR tells a unit test where qemu-user itself differs from the target
# (tests/unit/test_metrics.c: an errno it does not translate).
set(CMAKE_CROSSCOMPILING_EMULATOR ${DOTD_CROSS_QEMU} -L /usr/${DOTD_CROSS_TRIPLET}
	-E DOTD_TEST_EMULATOR=${DOTD_CROSS_QEMU})
if(DOTD_CROSS_SYSROOT)
	list(APPEND CMAKE_CROSSCOMPILING_EMULATOR -E LD_LIBRARY_PATH=${sysroot_lib})
endif()
