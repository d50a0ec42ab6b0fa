"""saliency: where people look. Learned and classic saliency models behind one interface."""
