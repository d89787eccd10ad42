// The OpenAPI 3 document of every route (src/server/static/openapi.json, compiled in), served at
// GET /openapi.json. tests/server keep it true: the route table and the document list the same routes,
// and each documented example is answered as the document's schemas say.
#pragma once

namespace bge::server {

const char* openapi_json();

}  // namespace bge::server
