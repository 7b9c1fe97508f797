"""PRM-guided test-time search: bon, vote, weighted-vote, beam, reject."""
