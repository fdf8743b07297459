"""Understanding what people mean: pure helpers the engine and the flows call on an answer."""
