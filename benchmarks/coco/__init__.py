"""Downstream benchmark: do detectors, segmenters and classifiers still work on decoded images?

COCO images -> every codec and quality (the ``bench rd`` adapters) -> decoded 8-bit images ->
a detector adapter (COCO results) and an ImageNet classifier -> pycocotools ``COCOeval``
(bbox, segm) and classification consistency -> CSV, CompressAI-style JSON, plots, report.
"""
