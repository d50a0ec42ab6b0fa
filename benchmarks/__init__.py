"""benchmarks: rate-distortion and downstream-task benchmarks over real codec files."""
