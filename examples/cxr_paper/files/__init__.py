"""What a run writes and reads back: one atomic writer, strict JSON, checkpoints with their
checksum, the output folder's single writer, per-image records and a finished model's result."""
