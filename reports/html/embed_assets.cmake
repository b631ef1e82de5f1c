# Turns the page assets (CSS, JS) into a C++ header, so every HTML report is one self-contained file.
# Usage: cmake -DASSET_DIR=dir -DOUTPUT=header.h -P embed_assets.cmake
# Each file name.ext becomes `inline constexpr std::string_view name_ext`, in namespace rbench::html::assets.
file(GLOB assets "${ASSET_DIR}/*.css" "${ASSET_DIR}/*.js")
list(SORT assets)
set(header "// Generated from ${ASSET_DIR} by embed_assets.cmake: do not edit.\n#pragma once\n#include <string_view>\n\n")
string(APPEND header "namespace rbench::html::assets {\n")
foreach(asset ${assets})
  get_filename_component(file_name "${asset}" NAME)
  string(MAKE_C_IDENTIFIER "${file_name}" identifier)
  file(READ "${asset}" bytes HEX)
  string(LENGTH "${bytes}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # Bytes, not a string literal: the assets contain quotes, backslashes and ")" freely.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${bytes}")
  string(APPEND header "inline constexpr char ${identifier}_bytes[] = {${bytes}};\n")
  string(APPEND header "inline constexpr std::string_view ${identifier}{${identifier}_bytes, ${size}};\n")
endforeach()
string(APPEND header "}  // namespace rbench::html::assets\n")
file(WRITE "${OUTPUT}.tmp" "${header}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
