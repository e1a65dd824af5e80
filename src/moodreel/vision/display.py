"""A window for the live view that works with the headless OpenCV wheel.

``opencv-python-headless`` has no GUI, so frames are shown with Tk (Python's standard GUI
toolkit) when OpenCV cannot; with neither, the error says what to do instead.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np


class DisplayError(RuntimeError):
    """No way to open a window here."""


class Window(Protocol):
    def show(self, frame: np.ndarray) -> bool:
        """Show a BGR frame; False once the user closed the window or pressed q/Esc."""
        ...

    def close(self) -> None: ...


def opencv_has_gui() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() != "NONE"
    return False


class OpenCVWindow:
    def __init__(self, title: str) -> None:
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        return visible and key not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


class TkWindow:
    def __init__(self, title: str) -> None:
        import tkinter

        try:
            self.root = tkinter.Tk()
        except tkinter.TclError as error:
            raise DisplayError(f"cannot open a window ({error})") from None
        self.root.title(title)
        self.label = tkinter.Label(self.root)
        self.label.pack()
        self.open = True
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.bind("<Key>", lambda event: self.close() if event.keysym in ("q", "Escape")
                       else None)
        self._image = None

    def show(self, frame: np.ndarray) -> bool:
        import tkinter

        if not self.open:
            return False
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        header = f"P6 {rgb.shape[1]} {rgb.shape[0]} 255 ".encode()
        self._image = tkinter.PhotoImage(data=header + rgb.tobytes(), format="PPM")
        self.label.configure(image=self._image)
        self.root.update()
        return self.open

    def close(self) -> None:
        if self.open:
            self.open = False
            self.root.destroy()


def open_window(title: str = "moodreel") -> Window:
    if opencv_has_gui():
        return OpenCVWindow(title)
    try:
        return TkWindow(title)
    except (ImportError, DisplayError) as error:
        raise DisplayError(
            f"no window can be opened here ({error}); use --no-display --out OUT.mp4 to "
            "record the annotated video instead"
        ) from None
