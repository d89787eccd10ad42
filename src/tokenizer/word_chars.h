// Rust regex's \w (Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control), which tokenizers'
// Whitespace pre-tokenizer and single_word added tokens use. Table: tools/make_word_table.py.
#pragma once

namespace bge {

bool is_word_char(char32_t c);

}  // namespace bge
