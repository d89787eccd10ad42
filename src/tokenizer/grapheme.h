// Extended grapheme clusters (UAX #29), as Hugging Face's Precompiled normalizer walks text with the Rust
// unicode-segmentation crate.
#pragma once

#include <cstddef>
#include <string_view>

namespace bge {

// End (byte offset) of the extended grapheme cluster that starts at `pos` in valid UTF-8 `text`.
size_t grapheme_end(std::string_view text, size_t pos);

}  // namespace bge
