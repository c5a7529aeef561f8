# Installs libpredictor with a CMake package (find_package(predictor) ->
# predictor::predictor) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS predictor EXPORT predictorTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/predictor DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The generated header sits beside the API headers (<predictor/caffe.pb.h>,
# included through <predictor/CaffeProto.h>), with the schema it came from.
install(FILES ${PREDICTOR_PROTO_HEADER} proto/predictor/caffe.proto
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/predictor)
install(EXPORT predictorTargets NAMESPACE predictor::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/predictor)

configure_package_config_file(cmake/predictorConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/predictorConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/predictor)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/predictorConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/predictorConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/predictorConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/predictor)

# Relocatable: the prefix is found from the .pc file's own folder.
file(RELATIVE_PATH PREDICTOR_PC_PREFIX_FROM_PCDIR "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
configure_file(cmake/predictor.pc.in ${CMAKE_CURRENT_BINARY_DIR}/predictor.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/predictor.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
