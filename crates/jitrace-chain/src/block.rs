//! The block: a header committing to the parent, the transactions and the state root, plus
//! the transactions' wire bytes.

use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, MaxEncodeSize, RangeCfg, Read, ReadExt as _,
    Write,
};
use commonware_consensus::{
    Block as ConsensusBlock, BoundedBlock, CertifiableBlock, Heightable, simplex::types::Context,
    types::Height,
};
use commonware_cryptography::{Digestible, Hasher, Sha256, ed25519, sha256};
use commonware_runtime::BufMut;
use commonware_storage::mmr::Location;
use commonware_utils::range::NonEmptyRange;
use jitrace_types::{Hash, tx::MAX_TX_BYTES};

/// The digest type of blocks and state roots.
pub type Digest = sha256::Digest;

/// The consensus context embedded in each block (round, leader, parent view).
pub type EngineContext = Context<Digest, ed25519::PublicKey>;

/// Most transactions in one block.
pub const MAX_BLOCK_TXS: usize = 20_000;
/// Most transaction bytes in one block.
pub const MAX_BLOCK_TX_BYTES: usize = 4 * 1024 * 1024;

/// What a block commits to. The block's digest is the SHA-256 of the header's encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The consensus round this block was proposed in.
    pub context: EngineContext,
    /// The parent block's digest.
    pub parent: Digest,
    pub height: Height,
    /// Milliseconds since the Unix epoch, chosen by the proposer: never below the parent's.
    pub time_ms: u64,
    /// Commits to the transactions, in order (see [`tx_root`]).
    pub tx_root: Digest,
    /// The authenticated store's canonical root after executing this block.
    pub state_root: Digest,
    /// The root of the store's operation log, which state sync verifies against.
    pub ops_root: Digest,
    /// The store's operation range after this block (inactivity floor .. size).
    pub range: NonEmptyRange<Location>,
}

/// A block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    /// Signed transactions, as their wire bytes.
    pub txs: Vec<Vec<u8>>,
}

/// The commitment to a block's transactions: SHA-256 over a domain tag and each transaction's
/// SHA-256.
pub fn tx_root(txs: &[Vec<u8>]) -> Digest {
    let mut leaves = Vec::with_capacity(8 + txs.len() * 32);
    leaves.extend_from_slice(&(txs.len() as u64).to_be_bytes());
    for tx in txs {
        leaves.extend_from_slice(Sha256::hash(&[tx]).as_ref());
    }
    Sha256::hash(&[b"jitrace/v1/tx-root", &leaves])
}

/// Converts an engine digest into ours.
pub fn to_hash(digest: &Digest) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Hash(out)
}

impl Write for Header {
    fn write(&self, buf: &mut impl BufMut) {
        self.context.write(buf);
        self.parent.write(buf);
        self.height.write(buf);
        self.time_ms.write(buf);
        self.tx_root.write(buf);
        self.state_root.write(buf);
        self.ops_root.write(buf);
        self.range.write(buf);
    }
}

impl EncodeSize for Header {
    fn encode_size(&self) -> usize {
        self.context.encode_size()
            + self.parent.encode_size()
            + self.height.encode_size()
            + self.time_ms.encode_size()
            + self.tx_root.encode_size()
            + self.state_root.encode_size()
            + self.ops_root.encode_size()
            + self.range.encode_size()
    }
}

impl Read for Header {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            context: EngineContext::read(buf)?,
            parent: Digest::read(buf)?,
            height: Height::read(buf)?,
            time_ms: u64::read(buf)?,
            tx_root: Digest::read(buf)?,
            state_root: Digest::read(buf)?,
            ops_root: Digest::read(buf)?,
            range: NonEmptyRange::read(buf)?,
        })
    }
}

impl Header {
    const MAX_SIZE: usize = EngineContext::MAX_ENCODE_SIZE
        + Digest::SIZE
        + Height::MAX_ENCODE_SIZE
        + u64::SIZE
        + 3 * Digest::SIZE
        + NonEmptyRange::<Location>::MAX_ENCODE_SIZE;
}

fn txs_cfg() -> (RangeCfg<usize>, (RangeCfg<usize>, ())) {
    ((0..=MAX_BLOCK_TXS).into(), ((1..=MAX_TX_BYTES).into(), ()))
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.header.write(buf);
        self.txs.write(buf);
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.header.encode_size() + self.txs.encode_size()
    }
}

impl Read for Block {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let header = Header::read(buf)?;
        let txs = Vec::<Vec<u8>>::read_cfg(buf, &txs_cfg())?;
        let total: usize = txs.iter().map(Vec::len).sum();
        if total > MAX_BLOCK_TX_BYTES {
            return Err(CodecError::Invalid(
                "Block",
                "transactions exceed the block byte limit",
            ));
        }
        Ok(Self { header, txs })
    }
}

impl Digestible for Block {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        let mut buf = Vec::with_capacity(self.header.encode_size());
        self.header.write(&mut buf);
        Sha256::hash(&[b"jitrace/v1/block", &buf])
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        self.header.height
    }
}

impl ConsensusBlock for Block {
    fn parent(&self) -> Digest {
        self.header.parent
    }
}

impl CertifiableBlock for Block {
    type Context = EngineContext;

    fn context(&self) -> EngineContext {
        self.header.context.clone()
    }
}

impl BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        // Header, the count, and per transaction a length prefix (at most 5 bytes) and its bytes.
        Header::MAX_SIZE + 5 + MAX_BLOCK_TXS * 5 + MAX_BLOCK_TX_BYTES
    }
}

impl Block {
    /// Checks the block's own consistency: the transaction root matches the transactions.
    pub fn tx_root_matches(&self) -> bool {
        tx_root(&self.txs) == self.header.tx_root
    }
}
