#pragma once

// The STIX 2.1 patterning grammar in PEGTL. Rules mirror the productions of STIXPattern.g4
// (oasis-open/cti-stix2-json-schemas, pattern_grammar/), in snake_case, so a reviewer can diff
// the two. Left recursion in the ANTLR grammar becomes repetition here, and ANTLR's lexer is
// emulated where it matters for what is accepted:
//   - tokens are longest-match: a keyword or identifier may not be followed by an identifier
//     character (so `bLIKE` is one identifier), a property name may not be followed by '-'
//     (`needs-quotes` lexes as one hyphenated identifier, which a property name cannot be);
//   - keywords are case-sensitive and reserved (a bare `AND` or `LAST` is never a name);
//   - whitespace is Unicode WSpace=Y (section 9.4) plus the /* */ and // comments the grammar
//     skips, and may appear between any two tokens, inside object paths too.
// One deliberate difference: a b'...' constant may contain line feeds, which section 9.2 says
// MUST be supported and ignored.
//
// must<> marks points of no return: after `[` a comparison expression must follow, and so on.
// Each must<> rule has a message in `errors` below, which is what a user sees with the offset.

#include <tao/pegtl.hpp>

namespace liaison::pattern::internal::grammar {

namespace pegtl = tao::pegtl;

using pegtl::eof;
using pegtl::eolf;
using pegtl::must;
using pegtl::not_at;
using pegtl::not_one;
using pegtl::one;
using pegtl::opt;
using pegtl::plus;
using pegtl::range;
using pegtl::ranges;
using pegtl::rep;
using pegtl::rep_max;
using pegtl::seq;
using pegtl::sor;
using pegtl::star;
using pegtl::string;
using pegtl::until;
using pegtl::ascii::digit;
using pegtl::ascii::xdigit;

// ---- whitespace and comments (WS, COMMENT, LINE_COMMENT) ----

struct ws_char : sor<one<' ', '\t', '\n', '\r', '\v', '\f'>,
                     pegtl::utf8::one<0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000>,
                     pegtl::utf8::range<0x2000, 0x200A>> {};
struct block_comment : seq<string<'/', '*'>, until<string<'*', '/'>>> {};
struct line_comment : seq<string<'/', '/'>, until<eolf>> {};
struct ws : star<sor<ws_char, block_comment, line_comment>> {};

// ---- keywords and identifiers ----

struct ident_first : ranges<'a', 'z', 'A', 'Z', '_'> {};
struct ident_other : ranges<'a', 'z', 'A', 'Z', '0', '9', '_'> {};
struct ident_or_hyphen : sor<ident_other, one<'-'>> {};

template <typename Word>
struct keyword : seq<Word, not_at<ident_or_hyphen>> {};

struct kw_and : keyword<TAO_PEGTL_STRING("AND")> {};
struct kw_or : keyword<TAO_PEGTL_STRING("OR")> {};
struct kw_not : keyword<TAO_PEGTL_STRING("NOT")> {};
struct kw_followedby : keyword<TAO_PEGTL_STRING("FOLLOWEDBY")> {};
struct kw_like : keyword<TAO_PEGTL_STRING("LIKE")> {};
struct kw_matches : keyword<TAO_PEGTL_STRING("MATCHES")> {};
struct kw_issuperset : keyword<TAO_PEGTL_STRING("ISSUPERSET")> {};
struct kw_issubset : keyword<TAO_PEGTL_STRING("ISSUBSET")> {};
struct kw_exists : keyword<TAO_PEGTL_STRING("EXISTS")> {};
struct kw_last : keyword<TAO_PEGTL_STRING("LAST")> {};
struct kw_in : keyword<TAO_PEGTL_STRING("IN")> {};
struct kw_start : keyword<TAO_PEGTL_STRING("START")> {};
struct kw_stop : keyword<TAO_PEGTL_STRING("STOP")> {};
struct kw_seconds : keyword<TAO_PEGTL_STRING("SECONDS")> {};
struct kw_true : keyword<TAO_PEGTL_STRING("true")> {};
struct kw_false : keyword<TAO_PEGTL_STRING("false")> {};
struct kw_within : keyword<TAO_PEGTL_STRING("WITHIN")> {};
struct kw_repeats : keyword<TAO_PEGTL_STRING("REPEATS")> {};
struct kw_times : keyword<TAO_PEGTL_STRING("TIMES")> {};

struct any_keyword : sor<kw_and, kw_or, kw_not, kw_followedby, kw_like, kw_matches, kw_issuperset,
                         kw_issubset, kw_exists, kw_last, kw_in, kw_start, kw_stop, kw_seconds,
                         kw_true, kw_false, kw_within, kw_repeats, kw_times> {};

// objectType: IdentifierWithoutHyphen | IdentifierWithHyphen.
struct object_type : seq<not_at<any_keyword>, ident_first, star<ident_or_hyphen>> {};
// A property name outside quotes: IdentifierWithoutHyphen, and not the head of a hyphenated one.
struct path_name : seq<not_at<any_keyword>, ident_first, star<ident_other>, not_at<one<'-'>>> {};

// ---- literals ----

struct int_magnitude : sor<one<'0'>, seq<range<'1', '9'>, star<digit>>> {};
// IntPosLiteral | IntNegLiteral
struct int_literal : seq<opt<one<'+', '-'>>, int_magnitude> {};
// FloatPosLiteral | FloatNegLiteral
struct float_literal : seq<opt<one<'+', '-'>>, star<digit>, one<'.'>, plus<digit>> {};
struct int_pos : seq<opt<one<'+'>>, int_magnitude> {};
struct float_pos : seq<opt<one<'+'>>, star<digit>, one<'.'>, plus<digit>> {};

struct string_close : one<'\''> {};
struct string_char : sor<seq<one<'\\'>, one<'\'', '\\'>>, not_one<'\'', '\\'>> {};
// StringLiteral: the only escapes are \' and \\ (section 9.2).
struct string_literal : seq<one<'\''>, star<string_char>, must<string_close>> {};

// HexLiteral: h'' with pairs of hex digits.
struct hex_literal : seq<one<'h'>, one<'\''>, star<xdigit, xdigit>, one<'\''>> {};
// BinaryLiteral: base64; its grouping and padding are checked when the tree is built, after
// line feeds are dropped.
struct base64_char : ranges<'A', 'Z', 'a', 'z', '0', '9', '+', '+', '/', '/'> {};
struct binary_literal : seq<one<'b'>, one<'\''>, star<sor<base64_char, one<'\n', '\r'>>>,
                            rep_max<2, one<'='>>, one<'\''>> {};

// TimestampLiteral: t'YYYY-MM-DDTHH:mm:ss[.s+]Z' with the field ranges of the ANTLR grammar.
struct ts_month : sor<seq<one<'0'>, range<'1', '9'>>, seq<one<'1'>, range<'0', '2'>>> {};
struct ts_day : sor<seq<one<'0'>, range<'1', '9'>>, seq<range<'1', '2'>, digit>,
                    seq<one<'3'>, range<'0', '1'>>> {};
struct ts_hour : sor<seq<range<'0', '1'>, digit>, seq<one<'2'>, range<'0', '3'>>> {};
struct ts_minute : seq<range<'0', '5'>, digit> {};
struct ts_second : sor<seq<range<'0', '5'>, digit>, string<'6', '0'>> {};
struct ts_body
    : seq<rep<4, digit>, one<'-'>, ts_month, one<'-'>, ts_day, one<'T'>, ts_hour, one<':'>,
          ts_minute, one<':'>, ts_second, opt<one<'.'>, plus<digit>>, one<'Z'>> {};
struct timestamp_literal : seq<one<'t'>, one<'\''>, ts_body, one<'\''>> {};

struct bool_literal : sor<kw_true, kw_false> {};

struct orderable_literal : sor<float_literal, int_literal, string_literal, binary_literal,
                               hex_literal, timestamp_literal> {};
struct primitive_literal : sor<orderable_literal, bool_literal> {};

struct close_set : one<')'> {};
// setLiteral: () or (literal, literal, ...)
struct set_literal
    : seq<one<'('>, ws, opt<primitive_literal, star<ws, one<','>, ws, must<primitive_literal>>>, ws,
          must<close_set>> {};

// ---- object paths ----

struct colon : one<':'> {};
struct path_component : sor<path_name, string_literal> {};
struct index_value : sor<int_literal, one<'*'>> {};
struct close_index : one<']'> {};
struct key_path_step : seq<one<'.'>, ws, must<path_component>> {};
struct index_path_step : seq<one<'['>, ws, must<index_value>, ws, must<close_index>> {};
struct object_path : seq<object_type, ws, must<colon>, ws, must<path_component>,
                         star<ws, sor<key_path_step, index_path_step>>> {};

// ---- comparison expressions ----

struct op_eq : sor<string<'=', '='>, one<'='>> {};
struct op_neq : sor<string<'!', '='>, string<'<', '>'>> {};
struct op_le : string<'<', '='> {};
struct op_lt : one<'<'> {};
struct op_ge : string<'>', '='> {};
struct op_gt : one<'>'> {};
struct op_in : kw_in {};
struct op_like : kw_like {};
struct op_matches : kw_matches {};
struct op_issubset : kw_issubset {};
struct op_issuperset : kw_issuperset {};
struct not_modifier : kw_not {};

struct prop_test_equal : seq<sor<op_eq, op_neq>, ws, must<primitive_literal>> {};
struct prop_test_order : seq<sor<op_le, op_ge, op_lt, op_gt>, ws, must<orderable_literal>> {};
struct prop_test_set : seq<op_in, ws, must<set_literal>> {};
struct prop_test_like : seq<op_like, ws, must<string_literal>> {};
struct prop_test_regex : seq<op_matches, ws, must<string_literal>> {};
struct prop_test_is_subset : seq<op_issubset, ws, must<string_literal>> {};
struct prop_test_is_superset : seq<op_issuperset, ws, must<string_literal>> {};
struct operator_test : sor<prop_test_equal, prop_test_order, prop_test_set, prop_test_like,
                           prop_test_regex, prop_test_is_subset, prop_test_is_superset> {};

struct comparison_expression;
struct close_prop_paren : one<')'> {};
struct prop_test_paren
    : seq<one<'('>, ws, must<comparison_expression>, ws, must<close_prop_paren>> {};
struct prop_test_exists : seq<opt<not_modifier, ws>, kw_exists, ws, must<object_path>> {};
struct prop_test_compare : seq<object_path, ws, opt<not_modifier, ws>, must<operator_test>> {};
struct prop_test : sor<prop_test_paren, prop_test_exists, prop_test_compare> {};

struct comparison_expression_and : seq<prop_test, star<ws, kw_and, ws, must<prop_test>>> {};
struct comparison_expression
    : seq<comparison_expression_and, star<ws, kw_or, ws, must<comparison_expression_and>>> {};

// ---- qualifiers ----

struct within_number : sor<float_pos, int_pos> {};
struct repeats_count : int_pos {};
struct within_qualifier : seq<kw_within, ws, must<within_number>, ws, must<kw_seconds>> {};
struct repeated_qualifier : seq<kw_repeats, ws, must<repeats_count>, ws, must<kw_times>> {};
struct start_stop_qualifier
    : seq<kw_start, ws, must<timestamp_literal>, ws, must<kw_stop>, ws, must<timestamp_literal>> {};
struct qualifier : sor<within_qualifier, repeated_qualifier, start_stop_qualifier> {};

// ---- observation expressions ----

struct observation_expressions;
struct close_bracket : one<']'> {};
struct close_paren : one<')'> {};
struct observation_expression_simple
    : seq<one<'['>, ws, must<comparison_expression>, ws, must<close_bracket>> {};
struct observation_expression_compound
    : seq<one<'('>, ws, must<observation_expressions>, ws, must<close_paren>> {};
struct observation_expression
    : seq<sor<observation_expression_simple, observation_expression_compound>,
          star<ws, qualifier>> {};
struct observation_expression_and
    : seq<observation_expression, star<ws, kw_and, ws, must<observation_expression>>> {};
struct observation_expression_or
    : seq<observation_expression_and, star<ws, kw_or, ws, must<observation_expression_and>>> {};
struct observation_expressions
    : seq<observation_expression_or, star<ws, kw_followedby, ws, must<observation_expression_or>>> {
};

struct pattern : seq<ws, must<observation_expressions>, ws, must<eof>> {};

// ---- error messages for every must<> ----

struct errors {
  template <typename Rule>
  static constexpr const char* message = nullptr;
  // Raise only through must<>: a rule with a message may still fail harmlessly elsewhere (a
  // keyword inside the reserved-word check, an alternative of a choice).
  template <typename Rule>
  static constexpr bool raise_on_failure = false;
};

template <>
inline constexpr const char* errors::message<observation_expressions> =
    "expected an observation expression: '[' or '('";
template <>
inline constexpr const char* errors::message<eof> =
    "expected AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern";
template <>
inline constexpr const char* errors::message<observation_expression> =
    "expected an observation expression after AND: '[' or '('";
template <>
inline constexpr const char* errors::message<observation_expression_and> =
    "expected an observation expression after OR: '[' or '('";
template <>
inline constexpr const char* errors::message<observation_expression_or> =
    "expected an observation expression after FOLLOWEDBY: '[' or '('";
template <>
inline constexpr const char* errors::message<close_bracket> =
    "expected AND, OR or ']' to close the observation expression";
template <>
inline constexpr const char* errors::message<close_paren> =
    "expected AND, OR, FOLLOWEDBY, a qualifier or ')'";
template <>
inline constexpr const char* errors::message<comparison_expression> =
    "expected a comparison expression: an object path such as file:name, EXISTS or '('";
template <>
inline constexpr const char* errors::message<comparison_expression_and> =
    "expected a comparison after OR";
template <>
inline constexpr const char* errors::message<prop_test> = "expected a comparison after AND";
template <>
inline constexpr const char* errors::message<close_prop_paren> = "expected AND, OR or ')'";
template <>
inline constexpr const char* errors::message<operator_test> =
    "expected a comparison operator: =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET or "
    "ISSUPERSET";
template <>
inline constexpr const char* errors::message<primitive_literal> =
    "expected a constant: a number, 'string', true, false, h'hex', b'base64' or "
    "t'timestamp'";
template <>
inline constexpr const char* errors::message<orderable_literal> =
    "expected a constant that can be ordered: a number, 'string', h'hex', b'base64' or "
    "t'timestamp'";
template <>
inline constexpr const char* errors::message<set_literal> =
    "expected a parenthesised list of constants after IN";
template <>
inline constexpr const char* errors::message<close_set> =
    "expected ',' or ')' in the list of constants";
template <>
inline constexpr const char* errors::message<string_literal> = "expected a 'string' constant";
template <>
inline constexpr const char* errors::message<string_close> =
    "expected the closing quote of the string (the only escapes are \\' and \\\\)";
template <>
inline constexpr const char* errors::message<colon> = "expected ':' after the object type";
template <>
inline constexpr const char* errors::message<path_component> =
    "expected a property name (quote names that contain '-' or '.')";
template <>
inline constexpr const char* errors::message<index_value> =
    "expected a list index: an integer or '*'";
template <>
inline constexpr const char* errors::message<close_index> = "expected ']' to close the list index";
template <>
inline constexpr const char* errors::message<object_path> = "expected an object path after EXISTS";
template <>
inline constexpr const char* errors::message<within_number> =
    "expected a positive number of seconds after WITHIN";
template <>
inline constexpr const char* errors::message<kw_seconds> = "expected SECONDS";
template <>
inline constexpr const char* errors::message<repeats_count> =
    "expected a positive integer after REPEATS";
template <>
inline constexpr const char* errors::message<kw_times> = "expected TIMES";
template <>
inline constexpr const char* errors::message<timestamp_literal> =
    "expected a timestamp constant t'YYYY-MM-DDTHH:mm:ss[.s+]Z'";
template <>
inline constexpr const char* errors::message<kw_stop> = "expected STOP";

template <typename Rule>
using control = pegtl::must_if<errors>::control<Rule>;

// The rules that become nodes of the parse tree (with their text); the others dissolve into
// their parents. parse.cc turns this tree into the AST of ast.h.
template <typename Rule>
using selector = pegtl::parse_tree::selector<
    Rule,
    pegtl::parse_tree::store_content::on<
        observation_expressions, observation_expression_or, observation_expression_and,
        observation_expression, observation_expression_simple, observation_expression_compound,
        within_qualifier, repeated_qualifier, start_stop_qualifier, within_number, repeats_count,
        comparison_expression, comparison_expression_and, prop_test_paren, prop_test_exists,
        prop_test_compare, not_modifier, object_path, object_type, path_name, index_value,
        int_literal, float_literal, string_literal, binary_literal, hex_literal, timestamp_literal,
        bool_literal, set_literal, op_eq, op_neq, op_lt, op_le, op_gt, op_ge, op_in, op_like,
        op_matches, op_issubset, op_issuperset>>;

}  // namespace liaison::pattern::internal::grammar
