use crate::error::InstallError;

/// The I/O runtime every install operation runs on: two workers, as the machine has two cores
/// and the work is network-bound.
pub fn io_runtime() -> Result<tokio::runtime::Runtime, InstallError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            InstallError::other(
                "install",
                format!("cannot start the I/O runtime: {e}"),
                "check the process and thread limits (ulimit -u)",
            )
        })
}
