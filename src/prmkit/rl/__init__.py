"""RL with process rewards: credit assignment, advantages, trainer, PRIME."""
