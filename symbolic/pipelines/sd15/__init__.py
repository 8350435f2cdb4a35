"""Stable Diffusion 1.5 (diffusers ``StableDiffusionPipeline`` / ``StableDiffusionImg2ImgPipeline``), model fully on
the GPU. One module per group of terms; ``model.py`` combines them into stage peaks and the closed-form peak."""
