"""Pure logic: models, normalization, masking, diff, scoring. No I/O, no clocks."""
