"""Building blocks shared by the component classes: tensor records of a module tree (``tensors``) and diffusers'
``ResnetBlock2D`` (``resnet``).

Parameter counts are derived from the config by walking the module tree as diffusers / transformers build it,
never typed in. Each builder returns a list of ``Tensor`` records in the order ``nn.Module.to()`` moves them
(children first, then a module's own parameters, then its buffers), which the allocator model packs into segments.
"""
