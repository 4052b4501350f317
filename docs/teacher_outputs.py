"""Write teacher outputs for Retort from Python, with numpy alone.

Retort reads a teacher's outputs over the training set as safetensors shards plus an index.json
(README, "Teacher outputs and transfer sets larger than memory"). This module writes them:

    from teacher_outputs import TeacherOutputsWriter

    # PyTorch: the teacher's logits over the training set, in the order Retort reads the data
    with TeacherOutputsWriter('teacher-outputs', classes=1000, top_k=32) as w:   # top_k=None: full logits
        with torch.no_grad():
            for x, _ in torch.utils.data.DataLoader(train_set, batch_size=4096, shuffle=False):
                w.add(teacher(x).float().numpy())

    retort distill --data ... --teacher-logits teacher-outputs/ --model ...

Each add() writes one shard (any number of rows); the index is written when the writer closes.
As a script it writes the logits of a .npy file: python3 teacher_outputs.py logits.npy OUT_DIR [K]
"""
import json
import os
import struct
import sys

import numpy as np

_DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('float64'): 'F64',
           np.dtype('int64'): 'I64', np.dtype('int32'): 'I32', np.dtype('uint16'): 'U16', np.dtype('uint8'): 'U8'}


def save_safetensors(path, tensors):
    """Writes named numpy arrays as one safetensors file (little-endian, packed, header padded to 8 bytes)."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        a = np.ascontiguousarray(array)
        a = a.astype(a.dtype.newbyteorder('<'), copy=False)
        header[name] = {'dtype': _DTYPES[a.dtype.newbyteorder('=')], 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b' ' * (-(8 + len(text)) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class TeacherOutputsWriter:
    """Shards of full logits, or of the top-k logits with their classes and each row's log-sum-exp."""

    def __init__(self, out_dir, classes, top_k=None):
        if top_k is not None and not 1 <= top_k <= classes:
            raise ValueError(f'top_k must be in [1, {classes}]')
        self.out_dir, self.classes, self.top_k, self.shards = out_dir, classes, top_k, []
        os.makedirs(out_dir, exist_ok=True)

    def add(self, logits):
        z = np.asarray(logits, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.classes:
            raise ValueError(f'logits must be [rows, {self.classes}], got {list(z.shape)}')
        if not np.isfinite(z).all():
            raise ValueError('logits hold NaN or Inf')
        name = f'outputs-{len(self.shards):05d}.safetensors'
        if self.top_k is None:
            tensors = {'logits': z}
        else:
            idx = np.argsort(-z, axis=1, kind='stable')[:, :self.top_k]
            m = z.max(axis=1, keepdims=True)
            lse = (m[:, 0].astype(np.float64) + np.log(np.exp((z - m).astype(np.float64)).sum(axis=1))).astype(np.float32)
            kept = np.take_along_axis(z, idx, axis=1)
            tail = ((z.astype(np.float64).sum(axis=1) - kept.astype(np.float64).sum(axis=1)) / max(1, self.classes - self.top_k)).astype(np.float32)
            tensors = {'values': kept, 'indices': idx.astype(np.int64), 'logsumexp': lse, 'tailmean': tail}
        save_safetensors(os.path.join(self.out_dir, name), tensors)
        self.shards.append({'file': name, 'rows': int(z.shape[0])})

    def close(self):
        index = {'format': 'retort-teacher-outputs', 'version': 1, 'kind': 'logits' if self.top_k is None else 'topk',
                 'rows': sum(s['rows'] for s in self.shards), 'classes': self.classes, 'shards': self.shards}
        if self.top_k is not None:
            index['k'] = self.top_k
        with open(os.path.join(self.out_dir, 'index.json'), 'w') as f:
            json.dump(index, f, indent=1)

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            self.close()


if __name__ == '__main__':
    logits = np.load(sys.argv[1])
    k = int(sys.argv[3]) if len(sys.argv) > 3 else None
    with TeacherOutputsWriter(sys.argv[2], logits.shape[1], k) as w:
        for start in range(0, len(logits), 4096):
            w.add(logits[start:start + 4096])
