# Type stubs of the compiled extension onnx_crypt._core (onnx_crypt/python/module.cc). The
# public API is the package (onnx_crypt/__init__.py), which re-exports the unlock functions
# and errors below and wraps lock and lock_batch.
import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

ModelOrKey = Union[bytes, bytearray, memoryview, str, os.PathLike]
Passphrase = Optional[Union[str, bytes]]

class Error(RuntimeError):
    code: str

class InvalidArgumentError(Error, ValueError): ...
class DataLossError(Error, ValueError): ...
class NotFoundError(Error, FileNotFoundError): ...
class UnimplementedError(Error, NotImplementedError): ...

def lock(model: ModelOrKey,
         data: Union[str, os.PathLike, np.ndarray, Dict[str, np.ndarray]],
         labels: Optional[np.ndarray] = ..., *, max_values: int = ...,
         target_accuracy: float = ..., seed: int = ..., include_bias: bool = ...,
         device: str = ..., values_per_round: int = ..., candidates: int = ...,
         threads: int = ..., harden: bool = ..., stealth_quantile: float = ...,
         repair_target: float = ..., passphrase: Passphrase = ...,
         progress: Optional[Callable[[Dict[str, Any]], None]] = ...,
         output: str = ...
         ) -> Tuple[bytes, bytes, Dict[str, Any]]: ...
def lock_batch(models: Iterable[Union[str, os.PathLike]], data: Union[str, os.PathLike],
               output_dir: Union[str, os.PathLike], *, variants: int = ...,
               shard_index: int = ..., shard_count: int = ..., max_values: int = ...,
               target_accuracy: float = ..., seed: int = ..., include_bias: bool = ...,
               device: str = ..., values_per_round: int = ..., candidates: int = ...,
               threads: int = ..., harden: bool = ..., stealth_quantile: float = ...,
               repair_target: float = ..., passphrase: Passphrase = ...,
               progress: Optional[Callable[[Dict[str, Any]], None]] = ...,
               output: str = ...
               ) -> List[Dict[str, Any]]: ...
def unlock(locked_model: ModelOrKey, key: ModelOrKey,
           output_path: Optional[Union[str, os.PathLike]] = ..., *,
           passphrase: Passphrase = ...) -> Optional[bytes]: ...
def unlock_to_bytes(locked_model: ModelOrKey, key: ModelOrKey, *,
                    passphrase: Passphrase = ...) -> bytes: ...
def unlock_tensors(locked_model: ModelOrKey, key: ModelOrKey, *,
                   passphrase: Passphrase = ...) -> Dict[str, np.ndarray]: ...
def verify(original: ModelOrKey, locked_model: ModelOrKey, key: ModelOrKey, *,
           passphrase: Passphrase = ...) -> None: ...
def describe_key(key: ModelOrKey, values: bool = ..., *, passphrase: Passphrase = ...) -> str: ...
def set_max_memory(size: Union[int, str]) -> None: ...
def max_memory() -> int: ...
