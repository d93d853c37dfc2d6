//! Screenshots for docs/: the page at a few window sizes, light and dark, taken when
//! `SHIPWATCH_SCREENSHOTS=DIR` is set (how the ones in docs/ are made).

use crate::Browser;
use std::path::PathBuf;
use std::time::Duration;

/// A window size, and what its files' names get for it.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    /// CSS pixels, or None for the browser's own window.
    pub width_height: Option<(u32, u32)>,
    /// After the name's stem (`""`, `-phone`, ...).
    pub suffix: &'static str,
}

/// The browser's own window (1280 x 860).
pub const WINDOW: Size = Size {
    width_height: None,
    suffix: "",
};
/// A desktop.
pub const DESKTOP: Size = Size {
    width_height: Some((1280, 800)),
    suffix: "",
};
/// A phone.
pub const PHONE: Size = Size {
    width_height: Some((390, 844)),
    suffix: "-phone",
};
/// A small phone.
pub const SMALL_PHONE: Size = Size {
    width_height: Some((360, 740)),
    suffix: "-phone-360",
};

/// The directory screenshots go to, when asked for (`SHIPWATCH_SCREENSHOTS`).
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("SHIPWATCH_SCREENSHOTS").map(PathBuf::from)
}

/// With `SHIPWATCH_SCREENSHOTS=DIR`: the page as it is now at each size, light and dark, as
/// `DIR/{stem}{suffix}.png` and `DIR/{stem}{suffix}-dark.png`; then the browser's own window
/// and the light scheme again. Without it, nothing.
pub async fn take(browser: &Browser, stem: &str, sizes: &[Size], settle: Duration) {
    let Some(dir) = dir() else {
        return;
    };
    for size in sizes {
        match size.width_height {
            Some((width, height)) => browser.set_viewport(width, height).await,
            None => browser.reset_viewport().await,
        }
        for dark in [false, true] {
            browser.set_dark(dark).await;
            tokio::time::sleep(settle).await;
            let dark = if dark { "-dark" } else { "" };
            let name = format!("{stem}{}{dark}.png", size.suffix);
            browser.screenshot(&dir.join(name)).await;
        }
    }
    browser.reset_viewport().await;
    browser.set_dark(false).await;
}
