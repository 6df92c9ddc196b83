// EmovoxDistill: placeholder, filled in by its issue.
