# Generates rbench_version.h with the project version and the git revision at every build,
# so `rbench --version` never reports a stale revision.
set(RBENCH_VERSION_HEADER ${CMAKE_BINARY_DIR}/generated/rbench_version.h)
add_custom_target(rbench_version_header
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUTPUT=${RBENCH_VERSION_HEADER}
          -DVERSION=${PROJECT_VERSION} -P ${CMAKE_SOURCE_DIR}/cmake/write_version.cmake
  BYPRODUCTS ${RBENCH_VERSION_HEADER}
  COMMENT "rbench version header")
