// Files of src/server/static/, compiled in (CMake's configure_file writes one .cc per file).
// openapi.json: the OpenAPI 3 document of every route, served at GET /openapi.json; tests/server keep it true
// (the route table and the document list the same routes, and each documented example is answered as the
// document's schemas say). playground.html: the page at GET /.
#pragma once

namespace bge::server {

const char* openapi_json();
const char* playground_html();

}  // namespace bge::server
