# `cmake --install build --prefix P` installs:
#   P/bin/tapegrad                                the command
#   P/lib/libtapegrad.a (.so with TAPEGRAD_SHARED)  the library
#   P/include/tapegrad/{autograd,layers,...}/*.h  the public headers (cmake/public_headers.cmake), laid out as in the
#                                                 source tree, so `#include "layers/layers.h"` works as it does there
#   P/lib/cmake/tapegrad/                         the CMake package: find_package(tapegrad CONFIG REQUIRED), then
#                                                 target_link_libraries(app PRIVATE tapegrad::tapegrad)
#   P/lib/pkgconfig/tapegrad.pc                   the pkg-config file
# and `cpack -G DEB` in the build folder (`make deb`) packs the same as a Debian package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/public_headers.cmake)

tg_public_headers(tg_installed_headers)
foreach(header ${tg_installed_headers})
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/${dir})
endforeach()

# What a user's target gets from tapegrad::tapegrad: C++20, the headers' two roots (include/tapegrad for the
# source-tree paths the headers use among themselves, include for <tapegrad/layers/layers.h>), and the libraries the
# public headers or the static library need. Eigen and stb are used inside the library only.
target_compile_features(tapegrad PUBLIC cxx_std_20)
target_include_directories(tapegrad INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/tapegrad>
                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(tapegrad PUBLIC OpenMP::OpenMP_CXX spdlog::spdlog nlohmann_json::nlohmann_json)
# The static library reads images and writes PNGs with Debian's compiled stb (libstb.so): its users link it too
# (link only: stb's headers stay private). tapegradConfig.cmake finds it with pkg-config.
if(TAPEGRAD_SHARED)
  set(tg_pc_requires "spdlog nlohmann_json")
  set(tg_config_needs_stb OFF)
else()
  target_link_libraries(tapegrad INTERFACE $<INSTALL_INTERFACE:$<LINK_ONLY:PkgConfig::tapegrad_stb>>)
  set(tg_pc_requires "spdlog nlohmann_json stb")
  set(tg_config_needs_stb ON)
endif()
if(tg_config_needs_mpi)  # TAPEGRAD_MPI (CMakeLists.txt): Debian's mpi-c.pc names the MPI chosen by alternatives
  string(APPEND tg_pc_requires " mpi-c")
endif()

install(TARGETS tapegrad EXPORT tapegradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tapegrad_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TAPEGRAD_SHARED)  # the installed command finds libtapegrad.so beside it, wherever the prefix is
  set_target_properties(tapegrad_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()

set(tg_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${tg_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tapegradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/tapegradConfig.cmake INSTALL_DESTINATION ${tg_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
        DESTINATION ${tg_cmake_dir})

# The .pc file finds its prefix from its own place (${pcfiledir}), so `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH tg_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${CMAKE_CURRENT_LIST_DIR}/tapegrad.pc.in ${PROJECT_BINARY_DIR}/tapegrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)

# The installed library used as a user would: tests/install/run.sh installs this build into a temporary prefix, builds
# the downstream project tests/install against it (find_package, a tiny U-Net trained and reloaded) and a program
# with pkg-config's flags alone. About 15 s (two small compiles); slow-labelled. Not in sanitizer builds, whose
# library only links into instrumented programs.
if(TAPEGRAD_TESTS AND NOT TAPEGRAD_SANITIZE AND NOT TAPEGRAD_FUZZ)
  add_test(NAME install/downstream
           COMMAND ${PROJECT_SOURCE_DIR}/tests/install/run.sh ${PROJECT_BINARY_DIR} ${CMAKE_CXX_COMPILER})
  set_tests_properties(install/downstream PROPERTIES LABELS "slow;install" TIMEOUT 600)
endif()
