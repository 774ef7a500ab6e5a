"""Note corpora: SoundFont rendering, SOL / TinySOL, NSynth and CSV importers, and the frame store."""
