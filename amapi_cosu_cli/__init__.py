"""`amapi-cosu`: the command-line client of the amapi-cosu HTTP API, for operators."""
