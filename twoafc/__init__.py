"""twoafc: LPIPS-style perceptual metrics learned from two-alternative forced-choice
(2AFC) human judgments, including the shipped LPIPS-Comp."""
