"""Sandwiched compression: neural pre/post-processors around a standard codec.

The bitstream stays a real JPEG (or AVIF) file that any viewer opens; a learned
pre-processor shapes the "neural code image" the codec sees, and a post-processor, named
in a marker inside the file, restores the picture after decoding. After Guleryuz et al.,
"Sandwiched Image Compression: Wrapping Neural Networks Around a Standard Codec"
(ICIP 2021) and "Sandwiched Image Compression: Increasing the Resolution and Dynamic Range
of Standard Codecs" (PCS 2022).

Kept light: heavy modules are imported by the code that needs them.
"""
