"""What flows through the tool: the police referral (facts, with demographics kept apart), the
shooting-victim listing, the record kinds the engine evaluates, the fact vocabulary a
guideline may name, and the recommendation the engine returns."""
