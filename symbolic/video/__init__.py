"""Video models: the latent tensor of a 3D VAE (``latent``) and real models' latent parameters (``presets``).

``symbolic.video.presets`` is plain data; ``symbolic.video.latent`` holds the SymPy equations and imports SymPy.
"""
