"""Model calls: the backend protocol, the OpenAI-compatible / Anthropic / vLLM / llama.cpp backends,
the retry and concurrency runner, the verdict cache and usage counts.

Knows nothing of rubrics or prompts: a request in, a completion out.
"""
