"""What PyYAML says of a document it cannot read, for the catalog.

A parser error is a context ("while scanning a simple key") and a problem ("could not find
expected ':'"), each where it happened; llmplatform.training_yaml quotes them in a sentence
of its own, and `llmplatform.sentences.translate` finds each here. These are every context
and problem that yaml.SafeLoader's classes raise, written as PyYAML writes them, with a
placeholder where PyYAML puts a value (`%r`); tests/test_training_yaml.py reads PyYAML's
source and fails on one missing here.
"""

from __future__ import annotations

from llmplatform.sentences import gettext_noop

# What PyYAML was reading when it stopped.
CONTEXTS = (
    gettext_noop("while scanning for the next token"),
    gettext_noop("while scanning a simple key"),
    gettext_noop("while scanning a directive"),
    gettext_noop("while parsing a directive"),
    gettext_noop("while scanning an alias"),
    gettext_noop("while scanning an anchor"),
    gettext_noop("while scanning a tag"),
    gettext_noop("while parsing a tag"),
    gettext_noop("while scanning a block scalar"),
    gettext_noop("while scanning a double-quoted scalar"),
    gettext_noop("while scanning a quoted scalar"),
    gettext_noop("while parsing a block collection"),
    gettext_noop("while parsing a block mapping"),
    gettext_noop("while parsing a flow sequence"),
    gettext_noop("while parsing a flow mapping"),
    gettext_noop("while parsing a node"),
    gettext_noop("while parsing a block node"),
    gettext_noop("while parsing a flow node"),
    gettext_noop("expected a single document in the stream"),
    gettext_noop("found duplicate anchor {anchor}; first occurrence"),
    gettext_noop("while constructing a mapping"),
    gettext_noop("while constructing an ordered map"),
    gettext_noop("while constructing pairs"),
)
# What it found wrong there.
PROBLEMS = (
    gettext_noop("found character {character} that cannot start any token"),
    gettext_noop("could not find expected ':'"),
    gettext_noop("sequence entries are not allowed here"),
    gettext_noop("mapping keys are not allowed here"),
    gettext_noop("mapping values are not allowed here"),
    gettext_noop("expected alphabetic or numeric character, but found {found}"),
    gettext_noop("expected a digit or '.', but found {found}"),
    gettext_noop("expected a digit or ' ', but found {found}"),
    gettext_noop("expected a digit, but found {found}"),
    gettext_noop("expected ' ', but found {found}"),
    gettext_noop("expected a comment or a line break, but found {found}"),
    gettext_noop("expected chomping or indentation indicators, but found {found}"),
    gettext_noop("expected indentation indicator in the range 1-9, but found 0"),
    gettext_noop("expected '!', but found {found}"),
    gettext_noop("expected '>', but found {found}"),
    gettext_noop("expected URI, but found {found}"),
    gettext_noop("expected URI escape sequence of 2 hexadecimal numbers, but found {found}"),
    gettext_noop("expected escape sequence of {length} hexadecimal numbers, but found {found}"),
    gettext_noop("found unknown escape character {character}"),
    gettext_noop("found unexpected end of stream"),
    gettext_noop("found unexpected document separator"),
    gettext_noop("expected <block end>, but found {found}"),
    gettext_noop("expected '<document start>', but found {found}"),
    gettext_noop("expected ',' or ']', but got {found}"),
    gettext_noop("expected ',' or '}}', but got {found}"),  # '}}' is one brace, as str.format writes it
    gettext_noop("expected the node content, but found {found}"),
    gettext_noop("found duplicate YAML directive"),
    gettext_noop("found incompatible YAML document (version 1.* is required)"),
    gettext_noop("duplicate tag handle {handle}"),
    gettext_noop("found undefined tag handle {handle}"),
    gettext_noop("but found another document"),
    gettext_noop("found undefined alias {alias}"),
    gettext_noop("second occurrence"),
    gettext_noop("could not determine a constructor for the tag {tag}"),
    gettext_noop("found unconstructable recursive node"),
    gettext_noop("expected a scalar node, but found {found}"),
    gettext_noop("expected a sequence node, but found {found}"),
    gettext_noop("expected a mapping node, but found {found}"),
    gettext_noop("expected a sequence, but found {found}"),
    gettext_noop("expected a mapping of length 1, but found {found}"),
    gettext_noop("expected a single mapping item, but found {count} items"),
    gettext_noop("expected a mapping for merging, but found {found}"),
    gettext_noop("expected a mapping or list of mappings for merging, but found {found}"),
    gettext_noop("found unhashable key"),
    gettext_noop("failed to convert base64 data into ascii: {error}"),
    gettext_noop("failed to decode base64 data: {error}"),
    gettext_noop("blacklisted key '{key}' in instance state found"),
    # The reader's, of a character YAML does not allow in a document.
    gettext_noop("special characters are not allowed"),
)
# What Python's datetime says of a value PyYAML reads as a date or time that does not exist (2024-13-45).
DATE_PROBLEMS = (
    gettext_noop("month must be in 1..12"),
    gettext_noop("day is out of range for month"),
    gettext_noop("hour must be in 0..23"),
    gettext_noop("minute must be in 0..59"),
    gettext_noop("second must be in 0..59"),
    gettext_noop("year {year} is out of range"),
)
