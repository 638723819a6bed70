"""Stand-in for vllm.exceptions (0.33.0): the classes judgekit tells apart."""


class VLLMError(Exception):
    pass


class VLLMClientError(VLLMError):
    pass


class VLLMServerError(VLLMError):
    pass


class VLLMValidationError(VLLMClientError):
    pass


class GenerationError(VLLMServerError):
    pass


class GracefulHTTPError(VLLMError):
    pass
