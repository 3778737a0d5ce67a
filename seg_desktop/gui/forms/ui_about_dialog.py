# -*- coding: utf-8 -*-

################################################################################
## Compiled by packaging/compile_forms.py from ui/about_dialog.ui: edit the source, then run it
## Form generated from reading UI file 'about_dialog.ui'
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QAbstractButton, QApplication, QDialog, QDialogButtonBox,
    QFormLayout, QHBoxLayout, QLabel, QLayout,
    QSizePolicy, QSpacerItem, QVBoxLayout, QWidget)
from . import seg_desktop_rc

class Ui_AboutDialog(object):
    def setupUi(self, AboutDialog):
        if not AboutDialog.objectName():
            AboutDialog.setObjectName(u"AboutDialog")
        AboutDialog.resize(460, 240)
        icon = QIcon()
        icon.addFile(u":/icons/seg-desktop-32.png", QSize(), QIcon.Mode.Normal, QIcon.State.Off)
        AboutDialog.setWindowIcon(icon)
        self.outer_layout = QVBoxLayout(AboutDialog)
        self.outer_layout.setSpacing(14)
        self.outer_layout.setObjectName(u"outer_layout")
        self.outer_layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        self.outer_layout.setContentsMargins(20, 20, 20, 14)
        self.body_layout = QHBoxLayout()
        self.body_layout.setSpacing(18)
        self.body_layout.setObjectName(u"body_layout")
        self.icon_layout = QVBoxLayout()
        self.icon_layout.setObjectName(u"icon_layout")
        self.icon_label = QLabel(AboutDialog)
        self.icon_label.setObjectName(u"icon_label")
        self.icon_label.setMinimumSize(QSize(64, 64))
        self.icon_label.setMaximumSize(QSize(64, 64))
        self.icon_label.setPixmap(QPixmap(u":/icons/seg-desktop-64.png"))
        self.icon_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.icon_layout.addWidget(self.icon_label)

        self.icon_spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.icon_layout.addItem(self.icon_spacer)


        self.body_layout.addLayout(self.icon_layout)

        self.text_layout = QVBoxLayout()
        self.text_layout.setSpacing(6)
        self.text_layout.setObjectName(u"text_layout")
        self.title_label = QLabel(AboutDialog)
        self.title_label.setObjectName(u"title_label")
        self.title_label.setTextFormat(Qt.TextFormat.RichText)

        self.text_layout.addWidget(self.title_label)

        self.version_label = QLabel(AboutDialog)
        self.version_label.setObjectName(u"version_label")
        self.version_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.text_layout.addWidget(self.version_label)

        self.description_label = QLabel(AboutDialog)
        self.description_label.setObjectName(u"description_label")
        self.description_label.setWordWrap(True)

        self.text_layout.addWidget(self.description_label)

        self.text_spacer = QSpacerItem(0, 6, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)

        self.text_layout.addItem(self.text_spacer)

        self.details_layout = QFormLayout()
        self.details_layout.setObjectName(u"details_layout")
        self.details_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeading|Qt.AlignmentFlag.AlignLeft|Qt.AlignmentFlag.AlignTop)
        self.details_layout.setHorizontalSpacing(12)
        self.database_caption = QLabel(AboutDialog)
        self.database_caption.setObjectName(u"database_caption")
        self.database_caption.setAlignment(Qt.AlignmentFlag.AlignLeading|Qt.AlignmentFlag.AlignLeft|Qt.AlignmentFlag.AlignTop)

        self.details_layout.setWidget(0, QFormLayout.ItemRole.LabelRole, self.database_caption)

        self.database_label = QLabel(AboutDialog)
        self.database_label.setObjectName(u"database_label")
        self.database_label.setMinimumSize(QSize(340, 0))
        self.database_label.setTextFormat(Qt.TextFormat.PlainText)
        self.database_label.setWordWrap(True)
        self.database_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details_layout.setWidget(0, QFormLayout.ItemRole.FieldRole, self.database_label)

        self.versions_caption = QLabel(AboutDialog)
        self.versions_caption.setObjectName(u"versions_caption")
        self.versions_caption.setAlignment(Qt.AlignmentFlag.AlignLeading|Qt.AlignmentFlag.AlignLeft|Qt.AlignmentFlag.AlignTop)

        self.details_layout.setWidget(1, QFormLayout.ItemRole.LabelRole, self.versions_caption)

        self.versions_label = QLabel(AboutDialog)
        self.versions_label.setObjectName(u"versions_label")
        self.versions_label.setTextFormat(Qt.TextFormat.PlainText)
        self.versions_label.setWordWrap(True)
        self.versions_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details_layout.setWidget(1, QFormLayout.ItemRole.FieldRole, self.versions_label)


        self.text_layout.addLayout(self.details_layout)


        self.body_layout.addLayout(self.text_layout)


        self.outer_layout.addLayout(self.body_layout)

        self.button_box = QDialogButtonBox(AboutDialog)
        self.button_box.setObjectName(u"button_box")
        self.button_box.setOrientation(Qt.Orientation.Horizontal)
        self.button_box.setStandardButtons(QDialogButtonBox.StandardButton.Ok)

        self.outer_layout.addWidget(self.button_box)


        self.retranslateUi(AboutDialog)
        self.button_box.accepted.connect(AboutDialog.accept)

        QMetaObject.connectSlotsByName(AboutDialog)
    # setupUi

    def retranslateUi(self, AboutDialog):
        AboutDialog.setWindowTitle(QCoreApplication.translate("AboutDialog", u"About seg-desktop", None))
        self.title_label.setText(QCoreApplication.translate("AboutDialog", u"<span style=\"font-size: 15pt; font-weight: 600;\">seg-desktop</span>", None))
        self.version_label.setText(QCoreApplication.translate("AboutDialog", u"Version 0.0.0", None))
        self.description_label.setText(QCoreApplication.translate("AboutDialog", u"Segments an office's clients into revenue tiers and rule-based segments.", None))
        self.database_caption.setText(QCoreApplication.translate("AboutDialog", u"Database:", None))
        self.database_label.setText(QCoreApplication.translate("AboutDialog", u"SQLite file\n"
"/path/to/office.db", None))
        self.versions_caption.setText(QCoreApplication.translate("AboutDialog", u"Running on:", None))
        self.versions_label.setText(QCoreApplication.translate("AboutDialog", u"Qt\n"
"PySide6\n"
"SQLAlchemy\n"
"Python", None))
    # retranslateUi
