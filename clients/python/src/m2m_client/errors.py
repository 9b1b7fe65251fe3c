"""Client errors: each message is one line that is safe to print (no token, no secret)."""


class ClientError(Exception):
    """Base of every failure the CLI reports as a one-line error."""


class ClientConfigError(ClientError):
    """A setting is missing or unusable."""


class IssuerUnreachableError(ClientError):
    """The token endpoint cannot be reached or did not answer in time."""


class TokenRequestError(ClientError):
    """The issuer refused to issue a token (bad credentials, unknown scope) or answered nonsense."""


class ApiUnreachableError(ClientError):
    """The API cannot be reached or did not answer in time."""


class ApiError(ClientError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
