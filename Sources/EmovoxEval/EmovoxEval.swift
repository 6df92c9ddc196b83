// EmovoxEval: placeholder, filled in by its issue.
