// EmovoxAudio: placeholder, filled in by its issue.
