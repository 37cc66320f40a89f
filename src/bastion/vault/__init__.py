"""Key custody: the master key (keychain or passphrase slot), sub-keys, sealing, API keys."""

from .apikeys import ENV_VARS, ApiKeyStore, mask_secret, reseal_all
from .crypto import DecryptionError, derive_subkey, open_sealed, seal
from .keycache import forget as forget_cached_key
from .keychain import keychain_switched_off
from .keyslot import FILENAME as KEYSLOT_FILENAME
from .keyslot import WrongPassphraseError
from .rotation import Rotation, crash_point, key_id
from .vault import PASSPHRASE_ENV, Vault, VaultError, describe_custody, open_vault

__all__ = [
    "ENV_VARS",
    "KEYSLOT_FILENAME",
    "PASSPHRASE_ENV",
    "ApiKeyStore",
    "DecryptionError",
    "Rotation",
    "Vault",
    "VaultError",
    "WrongPassphraseError",
    "crash_point",
    "derive_subkey",
    "describe_custody",
    "forget_cached_key",
    "key_id",
    "keychain_switched_off",
    "mask_secret",
    "open_sealed",
    "open_vault",
    "reseal_all",
    "seal",
]
