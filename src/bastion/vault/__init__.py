"""Key custody: the master key (keychain or passphrase slot), sub-keys, sealing, API keys."""

from .apikeys import ApiKeyStore, mask_secret
from .crypto import DecryptionError, derive_subkey, open_sealed, seal
from .keycache import forget as forget_cached_key
from .keyslot import WrongPassphraseError
from .vault import PASSPHRASE_ENV, Vault, VaultError, describe_custody, open_vault

__all__ = [
    "PASSPHRASE_ENV",
    "ApiKeyStore",
    "DecryptionError",
    "Vault",
    "VaultError",
    "WrongPassphraseError",
    "derive_subkey",
    "describe_custody",
    "forget_cached_key",
    "mask_secret",
    "open_sealed",
    "open_vault",
    "seal",
]
