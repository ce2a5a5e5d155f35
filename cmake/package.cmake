# `cpack -G DEB` in the build folder (or `make deb`): a Debian package of what `cmake --install` installs. Its
# Depends are the shared libraries the command links (dpkg-shlibdeps: libspdlog, libfmt, libgomp, libstdc++, libc)
# and the -dev packages the installed headers, CMake package and pkg-config file need (nlohmann_json's headers,
# spdlog's CMake and pkg-config files, libstb.so, libonnx and protobuf for the static library). dpkg-shlibdeps and
# file do the first part (scripts/install-deps.sh --deb installs them).
# Build it portable (TAPEGRAD_NATIVE=OFF, the default): the GEMM kernels pick AVX2/AVX-512 at run time anyway.
if(TAPEGRAD_NATIVE)
  message(WARNING "TAPEGRAD_NATIVE=ON: a package built now runs only on CPUs like this one")
endif()
set(CPACK_PACKAGE_NAME tapegrad)
set(CPACK_PACKAGE_VENDOR "tapegrad")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C++20 CPU training of Keras-style U-Nets: library, headers and command")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tapegrad maintainers <tapegrad@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libspdlog-dev, nlohmann-json3-dev, libstb-dev, libonnx-dev, libprotobuf-dev")
include(CPack)
