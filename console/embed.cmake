# Writes the console's files into a C++ source as raw string literals, so the console ships
# inside the dnsd binary (nothing read from disk or fetched at run time).
# Inputs: SRC (this folder), OUT (the .cc to write).
set(assets index.html app.js app.css)
set(body "// Generated from console/ by console/embed.cmake; do not edit.\n")
string(APPEND body "#include \"console/console_assets.h\"\n\nnamespace dnsd::console {\n\n")
string(APPEND body "const std::vector<Asset>& Assets() {\n  static const std::vector<Asset> assets = {\n")
foreach(asset IN LISTS assets)
  set(name "${asset}")
  file(READ "${SRC}/${name}" content)
  string(FIND "${content}" ")dnsdconsole\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name} contains the raw string delimiter")
  endif()
  string(APPEND body "      {\"${name}\", R\"dnsdconsole(${content})dnsdconsole\"},\n")
endforeach()
string(APPEND body "  };\n  return assets;\n}\n\n}  // namespace dnsd::console\n")
file(WRITE "${OUT}" "${body}")
