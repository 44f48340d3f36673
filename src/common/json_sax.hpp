#pragma once
// SAX parsing of JSON text with nlohmann/json's parser alone.
//
// nlohmann::json::sax_parse takes the input format as a run-time argument, so
// every call also instantiates the CBOR, MessagePack, UBJSON, BSON and BJData
// readers: tens of KB of code that a runtime never runs, and an import of
// ldexp that made corral link libm (whose pages then count in the RSS of
// every `corral run`). This is what sax_parse does for input_format_t::json,
// through nlohmann's detail::parser (stable across the 3.11 releases).

#include <nlohmann/json.hpp>

#include <string_view>

namespace corral {

// strict: the value must be followed by nothing but whitespace. Returns the
// SAX handler's verdict; with a handler that throws, exceptions propagate.
template <class Sax>
bool sax_parse_json(std::string_view text, Sax *sax, bool strict = true) {
    auto input = nlohmann::detail::input_adapter(text.begin(), text.end());
    return nlohmann::detail::parser<nlohmann::json, decltype(input)>(std::move(input)).sax_parse(sax, strict);
}

} // namespace corral
