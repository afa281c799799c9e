# Debian packages through CPack (included from CMakeLists.txt, after the install rules):
#
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-release && (cd build-release && cpack -G DEB)
#
# gives, from the install components:
#   libswiftws<ABI>        runtime: the stripped library and its SONAME link (Section libs)
#   libswiftws-dev         development: header, libswiftws.so, pkg-config file, CMake package
#   libswiftws<ABI>-dbg    debug: the library's debug information under /usr/lib/debug
# The run-time package is named after the ABI version (Debian's library packaging policy), so a
# future libswiftws2 installs beside it; -dev and -dbg depend on the exact same version of it.
# Its dependencies (libc6, libstdc++6, zlib1g ...) come from dpkg-shlibdeps (package dpkg-dev),
# and it ships a shlibs file and the ldconfig trigger, as Debian library packages do.
# Tests/C/deb_package_test.sh builds, installs, uses and removes them.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "swiftws")
set(CPACK_PACKAGE_VENDOR "The SwiftWS authors")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "The SwiftWS authors")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
# Packages install into /usr whatever the build's CMAKE_INSTALL_PREFIX.
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# DESTDIR staging: the install scripts then see CMAKE_INSTALL_PREFIX=/usr, which the pkg-config
# file and the debug-information path are computed from.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development debug)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)            # NAME_VERSION-RELEASE_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The SwiftWS authors")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/swiftws/swiftws")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(_sws_runtime_package "libswiftws${SWS_ABI_VERSION}")
set(_sws_exact "${_sws_runtime_package} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "${_sws_runtime_package}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# Packed relative relocations (DT_RELR) need glibc 2.36; dpkg-shlibdeps does not count them.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libc6 (>= 2.36)")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)        # shlibs file + ldconfig trigger
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Descriptions: CPack puts the project's DESCRIPTION (the synopsis) in front of each.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "SwiftWS runs WebSocket servers and clients on its own epoll event loop, with \
broadcast and topics, keepalive, and limits on everything a peer controls. \
Its core is Swift; the Swift runtime is linked in, so programs need no Swift toolchain.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME "libswiftws-dev")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${_sws_exact}, pkgconf | pkg-config")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION "Development files: the header swiftws.h, the pkg-config file (pkg-config --cflags --libs swiftws) \
and the CMake package (find_package(SwiftWS)) of SwiftWS.")

set(CPACK_DEBIAN_DEBUG_PACKAGE_NAME "${_sws_runtime_package}-dbg")
set(CPACK_DEBIAN_DEBUG_PACKAGE_SECTION debug)
set(CPACK_DEBIAN_DEBUG_PACKAGE_DEPENDS "${_sws_exact}")
set(CPACK_DEBIAN_DEBUG_DESCRIPTION "Debug information: the debug information of libswiftws, which gdb finds through the library's .gnu_debuglink.")

include(CPack)
