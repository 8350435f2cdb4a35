"""Memory switches of a pipeline call: offloading (model / sequential / group), layerwise casting, and weight
quantization schemes.
"""
