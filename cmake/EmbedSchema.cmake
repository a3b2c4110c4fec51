# Turns the numbered migrations in schema/ into a C++ source file, so that the library
# carries its schema and needs no files at run time.
function(graphmirror_embed_schema out_cc)
  file(GLOB migrations CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/schema/[0-9][0-9][0-9]_*.sql")
  list(SORT migrations)
  add_custom_command(
    OUTPUT "${out_cc}"
    COMMAND "${CMAKE_COMMAND}" "-DOUT=${out_cc}" "-DSCHEMA_DIR=${PROJECT_SOURCE_DIR}/schema"
            -P "${PROJECT_SOURCE_DIR}/cmake/EmbedSchemaScript.cmake"
    DEPENDS ${migrations} "${PROJECT_SOURCE_DIR}/cmake/EmbedSchemaScript.cmake"
    COMMENT "Embedding schema migrations")
endfunction()
