// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title proofmark anchor contract
/// @notice Keeps, per member account and batch id, the batch root that
/// proofmark committed and the batch log's checkpoint (size, root) after the
/// batch was appended to it (SPEC.md section 9.4). Each member anchors its
/// own store's batch log: batch ids and log sizes are the member's own, so
/// members never collide. Writing is reserved to consortium members, whom an
/// admin grants and revokes; reading is open to all. A member anchors a batch
/// id once: a second, different root for it is refused.
/// @dev Hashes follow the `sha256-rfc6962` suite of SPEC.md section 5:
/// leaf(d) = SHA-256(0x00 || d), node(l, r) = SHA-256(0x01 || l || r),
/// computed with the SHA-256 precompile (address 0x02).
contract ProofmarkAnchor {
    /// @notice What was anchored for one batch.
    struct Anchor {
        /// The batch root (the batch's own suite).
        bytes32 root;
        /// The BLAKE3 digest of the batch's manifest.json.
        bytes32 manifestDigest;
        /// The batch log's root at size `logSize`, the batch appended.
        bytes32 logRoot;
        /// Leaves in the batch.
        uint64 leafCount;
        /// The batch log's size at the checkpoint.
        uint64 logSize;
        /// The block the anchor was written in (0: no anchor).
        uint64 blockNumber;
        /// That block's timestamp.
        uint64 timestamp;
    }

    /// @notice A member's latest anchored batch log checkpoint.
    struct Checkpoint {
        /// The log size (0: none yet).
        uint64 size;
        /// The log root at that size.
        bytes32 root;
    }

    /// @notice The account that grants and revokes membership.
    address public admin;
    /// @notice Whether an account may anchor.
    mapping(address => bool) public isMember;
    /// @notice Every anchored batch log checkpoint: member => log size => log root.
    mapping(address => mapping(uint64 => bytes32)) public logRootAt;
    /// @notice Number of batches anchored, all members together.
    uint256 public anchorCount;

    mapping(address => Checkpoint) private latest;
    mapping(address => mapping(bytes32 => Anchor)) private anchors;

    /// @notice The admin changed.
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    /// @notice `account` may anchor.
    event MemberGranted(address indexed account);
    /// @notice `account` may no longer anchor.
    event MemberRevoked(address indexed account);
    /// @notice A batch was anchored; `batchKey` is keccak256 of the batch id's bytes.
    event Anchored(
        bytes32 indexed batchKey,
        string batchId,
        bytes32 root,
        uint64 leafCount,
        bytes32 manifestDigest,
        uint64 logSize,
        bytes32 logRoot,
        address indexed submitter
    );

    /// @notice Only the admin may do this.
    error NotAdmin(address account);
    /// @notice Only a member may anchor.
    error NotMember(address account);
    /// @notice The zero address is not an account.
    error ZeroAddress();
    /// @notice A batch id is 1 to 128 bytes.
    error InvalidBatchId();
    /// @notice A committed batch has at least one leaf and a non-zero root.
    error EmptyBatch();
    /// @notice A log checkpoint has a non-zero size and root.
    error InvalidLogCheckpoint();
    /// @notice The member already anchored the batch id with other contents.
    error AnchorConflict(string batchId, bytes32 anchoredRoot, bytes32 root);
    /// @notice The member anchored a checkpoint of this log size with another root: its log forked.
    error LogCheckpointConflict(uint64 logSize, bytes32 anchoredLogRoot, bytes32 logRoot);
    /// @notice Inclusion proof: the tree size is zero.
    error EmptyTree();
    /// @notice Inclusion proof: the index is not below the tree size.
    error IndexOutOfRange(uint256 index, uint256 treeSize);
    /// @notice Inclusion proof: fewer hashes than (index, size) require.
    error TooFewHashes(uint256 expected, uint256 actual);
    /// @notice Inclusion proof: more hashes than (index, size) require.
    error TooManyHashes(uint256 expected, uint256 actual);

    /// @notice The deployer is the first admin.
    constructor() {
        admin = msg.sender;
        emit AdminTransferred(address(0), msg.sender);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Hands the admin role to `newAdmin`.
    function transferAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert ZeroAddress();
        emit AdminTransferred(admin, newAdmin);
        admin = newAdmin;
    }

    /// @notice Lets `account` anchor.
    function grant(address account) external onlyAdmin {
        if (account == address(0)) revert ZeroAddress();
        if (!isMember[account]) {
            isMember[account] = true;
            emit MemberGranted(account);
        }
    }

    /// @notice Stops `account` from anchoring; its past anchors stay.
    function revoke(address account) external onlyAdmin {
        if (isMember[account]) {
            isMember[account] = false;
            emit MemberRevoked(account);
        }
    }

    /// @notice Anchors a batch of the sender's store and the sender's batch
    /// log checkpoint that covers it.
    /// @return anchoredNow false when the sender already anchored the batch
    /// with the same root, leaf count and manifest digest (nothing is written then).
    function anchor(
        string calldata batchId,
        bytes32 root,
        uint64 leafCount,
        bytes32 manifestDigest,
        uint64 logSize,
        bytes32 logRoot
    ) external returns (bool anchoredNow) {
        if (!isMember[msg.sender]) revert NotMember(msg.sender);
        uint256 idLength = bytes(batchId).length;
        if (idLength == 0 || idLength > 128) revert InvalidBatchId();
        if (leafCount == 0 || root == bytes32(0)) revert EmptyBatch();
        if (logSize == 0 || logRoot == bytes32(0)) revert InvalidLogCheckpoint();
        bytes32 key = keccak256(bytes(batchId));
        Anchor storage a = anchors[msg.sender][key];
        if (a.blockNumber != 0) {
            if (a.root == root && a.leafCount == leafCount && a.manifestDigest == manifestDigest) {
                return false;
            }
            revert AnchorConflict(batchId, a.root, root);
        }
        recordCheckpoint(logSize, logRoot);
        a.root = root;
        a.manifestDigest = manifestDigest;
        a.logRoot = logRoot;
        a.leafCount = leafCount;
        a.logSize = logSize;
        a.blockNumber = uint64(block.number);
        a.timestamp = uint64(block.timestamp);
        anchorCount += 1;
        emit Anchored(key, batchId, root, leafCount, manifestDigest, logSize, logRoot, msg.sender);
        return true;
    }

    /// @dev Records the sender's log checkpoint; reverts when the sender
    /// anchored another root for the same size.
    function recordCheckpoint(uint64 logSize, bytes32 logRoot) private {
        mapping(uint64 => bytes32) storage roots = logRootAt[msg.sender];
        bytes32 known = roots[logSize];
        if (known == bytes32(0)) {
            roots[logSize] = logRoot;
        } else if (known != logRoot) {
            revert LogCheckpointConflict(logSize, known, logRoot);
        }
        Checkpoint storage top = latest[msg.sender];
        if (logSize > top.size) {
            top.size = logSize;
            top.root = logRoot;
        }
    }

    /// @notice The anchor of `batchId` by `submitter`; all fields zero when there is none.
    function getAnchor(address submitter, string calldata batchId) external view returns (Anchor memory) {
        return anchors[submitter][keccak256(bytes(batchId))];
    }

    /// @notice The latest batch log checkpoint `submitter` anchored (0, 0 before any).
    function latestCheckpoint(address submitter) external view returns (uint64 size, bytes32 root) {
        Checkpoint storage top = latest[submitter];
        return (top.size, top.root);
    }

    /// @notice The `sha256-rfc6962` leaf hash of `data`: SHA-256(0x00 || data).
    function leafHash(bytes calldata data) public pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @notice The root an RFC 6962 inclusion proof leads to (SPEC.md
    /// section 7.1, `sha256-rfc6962`); reverts on malformed input.
    /// @param leaf the entry's leaf hash
    /// @param index the entry's index
    /// @param treeSize the number of entries of the tree
    /// @param proof the audit path, bottom-up
    function rootFromInclusionProof(bytes32 leaf, uint256 index, uint256 treeSize, bytes32[] calldata proof)
        public
        pure
        returns (bytes32)
    {
        if (treeSize == 0) revert EmptyTree();
        if (index >= treeSize) revert IndexOutOfRange(index, treeSize);
        uint256 expected = 0;
        uint256 i = index;
        uint256 last = treeSize - 1;
        while (last > 0) {
            if (i & 1 == 1 || i < last) expected += 1;
            i >>= 1;
            last >>= 1;
        }
        if (proof.length < expected) revert TooFewHashes(expected, proof.length);
        if (proof.length > expected) revert TooManyHashes(expected, proof.length);
        bytes32 r = leaf;
        uint256 k = 0;
        i = index;
        last = treeSize - 1;
        while (last > 0) {
            if (i & 1 == 1) {
                r = sha256(abi.encodePacked(bytes1(0x01), proof[k], r));
                k += 1;
            } else if (i < last) {
                r = sha256(abi.encodePacked(bytes1(0x01), r, proof[k]));
                k += 1;
            }
            i >>= 1;
            last >>= 1;
        }
        return r;
    }

    /// @notice Whether an inclusion proof is well formed and leads to `root`.
    function verifyInclusionProof(
        bytes32 leaf,
        uint256 index,
        uint256 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) public view returns (bool) {
        try this.rootFromInclusionProof(leaf, index, treeSize, proof) returns (bytes32 computed) {
            return computed == root;
        } catch {
            return false;
        }
    }

    /// @notice Whether `leaf` is entry `index` of the tree of batch `batchId`
    /// as `submitter` anchored it. The batch must use the `sha256-rfc6962` suite, and
    /// `treeSize` must be the anchored leaf count: the size comes from the
    /// same trusted source as the root (SPEC.md section 7.1).
    function verifyInclusion(
        address submitter,
        string calldata batchId,
        bytes32 leaf,
        uint256 index,
        uint256 treeSize,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Anchor storage a = anchors[submitter][keccak256(bytes(batchId))];
        if (a.blockNumber == 0 || treeSize != a.leafCount) return false;
        return verifyInclusionProof(leaf, index, treeSize, proof, a.root);
    }

    /// @notice Whether `entryLeafHash` is entry `index` of the batch log
    /// checkpoint of size `logSize` that `submitter` anchored (batch log
    /// entries, SPEC.md section 9.1).
    function verifyLogInclusion(
        address submitter,
        bytes32 entryLeafHash,
        uint256 index,
        uint64 logSize,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = logRootAt[submitter][logSize];
        if (root == bytes32(0)) return false;
        return verifyInclusionProof(entryLeafHash, index, logSize, proof, root);
    }
}
